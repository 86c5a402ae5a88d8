"""The format numbers of what the engine writes, below every stage: the record's format is
also part of every result's key (results of another format are never reused)."""

from __future__ import annotations

RECORD_FORMAT = 4  # 2: regions are an ordered list (one entry per include), entries carry a
# digest; 3: each executed region has its own key (inputs.region_keys), the store keeps one
# run per key; 4: typed (msgspec) throughout: a region entry's run nested under "run",
# the build summary and every run field always present
