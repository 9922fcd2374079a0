"""Order-driven production: offerings, pre-orders and production requests.

Its events are declared here first so that other modules (rewards pays royalties) can subscribe
to the contract before the rest of the module lands.
"""
