input X : d x n
param W : h x d
Z = W*X +
  1
J = mean(Z)
