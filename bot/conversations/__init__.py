"""What the assistant keeps of conversations, and for how long (retention, "forget me")."""
