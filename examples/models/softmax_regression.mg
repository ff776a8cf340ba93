# softmax regression: k classes, d features, n samples as columns; Y is one-hot (k x n)
input X : d x n
input Y : k x n
param W : k x d
param b : k x 1
Z = W*X + b
J = -mean(sum(Y .* log_softmax(Z), 0))
