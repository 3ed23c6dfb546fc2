"""The reconcile loop: work queue, reconciler, scheduling and the live controller's wiring.

Computes no quotes itself: it asks the planner and executes through the venue.
"""
