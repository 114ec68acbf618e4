"""Analysis on top of the core and the simulator: figures, exploration, hypothesis machines.

These modules load pandas, matplotlib or hypothesis; nothing in the core or the shells imports
them.
"""
