"""Raw MER datasets (frame folders + annotation file) -> SequenceExample records."""
