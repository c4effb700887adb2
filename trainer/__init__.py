"""mer-tfx trainer."""
