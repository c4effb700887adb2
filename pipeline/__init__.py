"""mer-tfx pipeline."""
