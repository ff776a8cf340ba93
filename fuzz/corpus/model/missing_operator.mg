input X : 2 x 3
J = sum(X X)
