# Gaussian negative log-likelihood (without the constant) of the columns of X,
# covariance S = L L' + 0.1 I, which stays positive definite for any L
input X : d x n
input I : d x d           # the identity
param mu : d x 1
param L : d x d
S = L*L' + 0.1*I
D = X - mu
J = 0.5*logdet(S) + 0.5*mean(sum(D .* (inv(S)*D), 0))
