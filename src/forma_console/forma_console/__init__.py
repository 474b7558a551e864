"""Forma console: the browser view of the stack (viser). view_model.py turns ROS messages into
what the page shows (pure, tested without a browser); node.py serves it."""
