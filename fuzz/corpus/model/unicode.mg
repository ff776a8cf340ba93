input Σ : d x n
param λ : 1 x d
R = λ*Σ
J = sum(R ⊙ R) / (2*n) + sum(σ(λᵀ) − λᵀ)
