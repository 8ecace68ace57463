module lab.local/images

go 1.24
