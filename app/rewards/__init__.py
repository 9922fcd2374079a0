"""Rewards: the points ledger, badges and levels, leaderboards, the catalog and royalties."""
