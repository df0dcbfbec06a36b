module example.com/platform/libs/go/platform

go 1.19
