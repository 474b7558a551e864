"""Wire protocols of the motor buses: the MIT-mode actuator protocol and Forma's sensor frames."""
