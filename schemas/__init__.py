"""mer-tfx schemas."""
