"""mer-tfx transform."""
