"""Task skills on the running stack: parse an instruction, run the skill, say what happened."""
