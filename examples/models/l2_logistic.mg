# L2-regularized logistic regression with labels y in {-1, +1}
input X : d x n
input y : 1 x n
param w : d x 1
margins = y .* (w'*X)
J = mean(log(1 + exp(-margins))) + 0.01 * sum(w .* w)
