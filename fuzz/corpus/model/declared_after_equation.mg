input X : 2 x 3
Z = X .* 2
param W : 2 x 3
J = sum(W .* Z)
