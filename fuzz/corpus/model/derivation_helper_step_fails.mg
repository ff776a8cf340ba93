dZ2 = (A2 − Y) / 7
dW2 = dZ2 * A1
h = W1ᵀ * dZ2
dA1 = h
dZ1 = dA1 ⊙ σ'(Z1)
