"""Run: each page's regions in a fresh, supervised process (limits, faults, clean-up)."""
