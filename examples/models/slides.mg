# the slides' network; samples are columns
input X : 10 x 7          # data: no gradient
input Y : 1 x 7
param W1 : 64 x 10        # gets a gradient dW1
param b1 : 64 x 1
param W2 : 1 x 64
param b2 : 1 x 1
Z1 = W1*X + b1
A1 = sigmoid(Z1)
Z2 = W2*A1 + b2
A2 = sigmoid(Z2)
J = -mean(Y .* log(A2) + (1 - Y) .* log(1 - A2))
