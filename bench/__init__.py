"""`make bench`: speed, memory and accuracy of NLU/dialogue pipelines (see bench/README.md)."""
