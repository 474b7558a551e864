"""`make bench`: speed and cost figures beside baselines measured in the same run."""
