input X : 3 x 3
Y = -X' .^ 2 ./ (1 + exp(-X)) @ X
J = sum(Y, 0) * mean(Y) / 2
K = sum(sigmoidd(X)
