input X : 1x1
J = ((((X))))^2 + 1e-3 - .5 
