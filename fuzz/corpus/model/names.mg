param a : 2 x 1
A = B + 1
B = sum(a)
A = mean(a)
