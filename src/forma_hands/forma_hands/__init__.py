"""forma_hands: synergies, grasp taxonomy and the grasp state machine for Forma's 22-DoF hands
(pure cores), and the `hands` node that wires them to ROS."""
