-- lua comment
--[[ block
comment ]]
local fooBar = "s"
