"""The weights of the cost the solver minimises (`scheduler.model`), in a module of their own so that the
solver's front (`scheduler.solver`) can price demand that has no candidate without importing OR-Tools."""

W_PLACE = 1000
W_KEEP = 100
W_LESSON = 20
W_SPREAD = 2
W_GAP = 1
