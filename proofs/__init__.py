"""Runnable numerical checks of the equivalences in the notes; ``python -m proofs`` runs them all."""
PROOFS = ["nll_kl", "lemma1", "theorem2", "esm_ism", "dsm_esm", "ssm_ism", "all_argmins",
          "ncsn_weighting", "sde_marginal", "reverse_sde", "tweedie", "langevin_stationary"]
