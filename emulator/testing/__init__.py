"""What a test holds: the handle, its rules, and the requests it saw."""
