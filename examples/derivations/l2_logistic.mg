# The right derivation for examples/models/l2_logistic.mg: w is used twice (in the margins and in
# the penalty), so dw is the sum of both paths' gradients.
# Check it: matgrad verify examples/models/l2_logistic.mg --seed 1 --hand this
dmargins = −σ(−margins) / n
dw = X * (y ⊙ dmargins)ᵀ + 0.02 * w
