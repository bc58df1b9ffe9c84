"""`make demo`: a sandbox Home Assistant with a believable home, the whole local stack against it, and life."""
