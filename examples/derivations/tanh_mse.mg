# The right derivation for examples/models/tanh_mse.mg, line by line (dNAME: your gradient of NAME;
# other names are helpers). Check it: matgrad verify examples/models/tanh_mse.mg --seed 1 --hand this
dR = 2 * R / n                   # J = mean(R ⊙ R): the mean's 1/n
dP = dR
dw2 = dP * Hᵀ
db2 = sum(dP)
dH = w2ᵀ * dP
dpre = dH ⊙ tanh'(W1*X + b1)    # a helper: the gradient of W1 X + b1
dW1 = dpre * Xᵀ
db1 = sum(dpre, 1)
