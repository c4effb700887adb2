"""mer-tfx synthetic."""
