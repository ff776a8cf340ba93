# The right derivation for examples/models/gaussian_nll.mg (S = L Lᵀ + 0.1 I is symmetric).
# Check it: matgrad verify examples/models/gaussian_nll.mg --inputs examples/models/gaussian_nll --seed 1 --hand this
# (the inputs give I, the identity; drawn at random it would not be one, and S not symmetric)
Si = inv(S)                                  # a helper
dD = Si * D / n
dmu = −sum(dD, 1)
dS = 0.5 * Si − 0.5 * Si * D * Dᵀ * Si / n
dL = (dS + dSᵀ) * L
