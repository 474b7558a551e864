"""forma_vla: vision-language-action policies on the robot (action space, chunk execution,
policy runtimes)."""
