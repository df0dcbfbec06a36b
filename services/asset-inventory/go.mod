module example.com/platform/services/asset-inventory

go 1.19

require example.com/platform/libs/go/platform v0.0.0

replace example.com/platform/libs/go/platform => ../../libs/go/platform
