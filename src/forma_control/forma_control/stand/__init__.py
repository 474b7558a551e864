"""The joint-PD stand: a ramp from the measured pose to a named pose, then a hold (posture.py,
pure); node.py runs it over DDS. The baseline of the pushes and the deployments without a
supervisor."""
