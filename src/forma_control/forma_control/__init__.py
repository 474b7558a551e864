"""Forma control: for now the joint-PD stand (posture.py + stand_node.py); whole-body control,
balance, walking and the safety supervisor grow here (DESIGN §2)."""
