"""mer-tfx components."""
