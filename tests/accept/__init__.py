"""`make accept`: statistical acceptance trials on the deterministic lockstep harness."""
