"""Natural hazards on the twin: where the water reaches and what it does there."""
