"""Pure domain types of Chatgate: no I/O, no framework, nothing of ours imported."""
