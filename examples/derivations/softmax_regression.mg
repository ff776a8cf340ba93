# The right derivation for examples/models/softmax_regression.mg.
# Check it: matgrad verify examples/models/softmax_regression.mg --seed 1 --hand this
# d log_softmax(Z) = −Y/n; through log_softmax's Jacobian: dZ = dL − softmax(Z) ⊙ (column sums of dL).
# (With one-hot Y this is (softmax(Z) − Y)/n; drawn values need not be one-hot.)
dZ = (softmax(Z) ⊙ sum(Y, 0) − Y) / n
dW = dZ * Xᵀ
db = sum(dZ, 1)
