"""The bi-level loop of Mahesheka et al. (arXiv 2410.09286): VLM feedback (upper level) → LLM reward
update (lower level) → RL → repeat. Backends sit behind the Protocols in :mod:`.protocols`."""
