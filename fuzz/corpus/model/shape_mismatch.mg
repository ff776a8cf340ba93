param W : 2x5
input X : 3x4
J = sum(W*X)
