# The slides' backward pass, typed as on the slides (matgrad verify examples/models/slides.mg --hand this):
# ⊙ element-wise, ᵀ transpose, σ' the sigmoid's derivative, juxtaposition the matrix product. Like the
# slides, it drops the mean's 1/n in dA2.
dA2 = −Y ⊘ A2 + (1 − Y) ⊘ (1 − A2)
dZ2 = dA2 ⊙ σ'(Z2)
dW2 = dZ2 A1ᵀ
db2 = rowsum(dZ2)
dA1 = W2ᵀ dZ2
dZ1 = dA1 ⊙ σ'(Z1)
dW1 = dZ1 Xᵀ
db1 = rowsum(dZ1)
