# regression with one tanh hidden layer of h units and mean squared error
input X : d x n
input T : 1 x n           # targets
param W1 : h x d
param b1 : h x 1
param w2 : 1 x h
param b2 : 1 x 1
H = tanh(W1*X + b1)
P = w2*H + b2
R = P - T                 # residuals
J = mean(R .* R)
